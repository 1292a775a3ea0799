"""console.tables.BaseTable and its columns, through the gateway tables."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from django.utils import timezone

from console.tables import DEFAULT_PAGE_SIZE, PAGE_SIZES
from gateways.models import Gateway, Region
from gateways.tables import GatewayTable, RegionTable
from tests.factories import GatewayFactory, RegionFactory, make_fleet


def request_for(user, query: str = ""):
    request = RequestFactory().get(f"/gateways/?{query}")
    request.user = user
    return request


def cells_html(table, record_index: int = 0) -> dict:
    row = list(table.rows)[record_index]
    return {column.name: str(cell) for column, cell in row.items()}


class TestOptimizeQueryset:
    def test_follows_the_visible_relations(self):
        queryset = GatewayTable.optimize_queryset(Gateway.objects.all())
        assert queryset.query.select_related == {"region": {}}
        assert queryset._prefetch_related_lookups == ("tags",)

    def test_plain_columns_need_nothing(self):
        queryset = RegionTable.optimize_queryset(Region.objects.all())
        assert queryset.query.select_related is False
        assert queryset._prefetch_related_lookups == ()

    def test_excluded_columns_are_not_joined(self):
        class WithoutRegion(GatewayTable):
            class Meta(GatewayTable.Meta):
                exclude = ("region", "tags")

        queryset = WithoutRegion.optimize_queryset(Gateway.objects.all())
        assert queryset.query.select_related is False
        assert queryset._prefetch_related_lookups == ()

    def test_dotted_accessors_join_their_first_relation(self):
        import django_tables2 as tables

        class RegionNameTable(GatewayTable):
            region_name = tables.Column(accessor="region__name")

            class Meta(GatewayTable.Meta):
                exclude = ("region", "tags")

        queryset = RegionNameTable.optimize_queryset(Gateway.objects.all())
        assert queryset.query.select_related == {"region": {}}

    @pytest.mark.django_db
    @pytest.mark.parametrize("size", [3, 12])
    def test_rendering_every_cell_takes_a_fixed_number_of_queries(
        self, django_assert_num_queries, viewer, size
    ):
        make_fleet(size, regions=3)
        queryset = GatewayTable.optimize_queryset(Gateway.objects.all())
        table = GatewayTable(queryset).configure(request_for(viewer, "per_page=50"))
        # configure() counted the rows; then the page of gateways joined with
        # their regions, and one query for all their tags.
        with django_assert_num_queries(2):
            rows = [cells_html(table, i) for i in range(size)]
        assert len(rows) == size


@pytest.mark.django_db
class TestPageSize:
    def test_defaults(self):
        assert DEFAULT_PAGE_SIZE == 25
        assert DEFAULT_PAGE_SIZE in PAGE_SIZES

    def test_preference_key_is_per_table(self):
        assert GatewayTable.preference_key() == "tables.GatewayTable.per_page"
        assert RegionTable.preference_key() != GatewayTable.preference_key()

    @pytest.mark.parametrize("size", PAGE_SIZES)
    def test_allowed_sizes_are_used_and_stored(self, viewer, size):
        table = GatewayTable(Gateway.objects.all()).configure(
            request_for(viewer, f"per_page={size}")
        )
        assert table.paginator.per_page == size
        viewer.refresh_from_db()
        assert viewer.get_preference("tables.GatewayTable.per_page") == size

    def test_other_preferences_are_kept(self, viewer):
        viewer.set_preference("theme", "dark")
        GatewayTable(Gateway.objects.all()).configure(request_for(viewer, "per_page=50"))
        viewer.refresh_from_db()
        assert viewer.preferences == {"theme": "dark", "tables.GatewayTable.per_page": 50}

    def test_a_tampered_stored_size_is_ignored(self, viewer):
        viewer.set_preference("tables.GatewayTable.per_page", 100000)
        table = GatewayTable(Gateway.objects.all()).configure(request_for(viewer))
        assert table.paginator.per_page == DEFAULT_PAGE_SIZE

    def test_anonymous_user_gets_the_size_but_nothing_is_stored(self):
        table = GatewayTable(Gateway.objects.all()).configure(
            request_for(AnonymousUser(), "per_page=10")
        )
        assert table.paginator.per_page == 10
        later = GatewayTable(Gateway.objects.all()).configure(request_for(AnonymousUser()))
        assert later.paginator.per_page == DEFAULT_PAGE_SIZE

    def test_asking_for_the_stored_size_again_writes_nothing(
        self, viewer, django_assert_num_queries
    ):
        viewer.set_preference("tables.GatewayTable.per_page", 10)
        request = request_for(viewer, "per_page=10")
        with django_assert_num_queries(0):
            GatewayTable(Gateway.objects.none()).configure(request)


@pytest.mark.django_db
class TestConfigure:
    @pytest.fixture
    def gateways(self):
        region = RegionFactory()
        return [GatewayFactory(name=f"gw-{i:02d}", region=region) for i in range(12)]

    def test_sorting(self, viewer, gateways):
        table = GatewayTable(Gateway.objects.all()).configure(request_for(viewer, "sort=-name"))
        assert [row.record.name for row in table.paginated_rows][:2] == ["gw-11", "gw-10"]

    @pytest.mark.parametrize(
        ("page", "expected"), [("1", 1), ("2", 2), ("abc", 1), ("", 1), ("99", 2)]
    )
    def test_page_numbers_are_validated(self, viewer, gateways, page, expected):
        table = GatewayTable(Gateway.objects.all()).configure(
            request_for(viewer, f"per_page=10&page={page}")
        )
        assert table.page.number == expected

    def test_empty_table_has_one_empty_page(self, viewer):
        table = GatewayTable(Gateway.objects.none()).configure(request_for(viewer, "page=3"))
        assert table.page.number == 1
        assert list(table.paginated_rows) == []

    def test_page_sizes_are_offered(self, viewer):
        table = GatewayTable(Gateway.objects.none()).configure(request_for(viewer))
        assert table.page_sizes == PAGE_SIZES


@pytest.mark.django_db
class TestColumns:
    def test_status_badge_uses_the_status_style(self, viewer):
        GatewayFactory(status="offline")
        html = cells_html(GatewayTable(Gateway.objects.all()).configure(request_for(viewer)))
        assert 'class="badge badge-danger"' in html["status"]
        assert "#circle-x" in html["status"]
        assert "Offline" in html["status"]

    def test_tags_are_sorted_and_escaped(self, viewer):
        GatewayFactory(tags=["pci", "<b>edge</b>"])
        html = cells_html(GatewayTable(Gateway.objects.all()).configure(request_for(viewer)))
        assert html["tags"] == (
            '<span class="tags"><span class="tag">&lt;b&gt;edge&lt;/b&gt;</span>'
            '<span class="tag">pci</span></span>'
        )

    def test_no_tags_shows_a_dash(self, viewer):
        GatewayFactory(tags=[])
        html = cells_html(GatewayTable(Gateway.objects.all()).configure(request_for(viewer)))
        assert html["tags"] == "—"

    def test_last_seen(self, viewer):
        GatewayFactory(name="a-seen", last_seen=timezone.now() - timedelta(minutes=3))
        GatewayFactory(name="b-never", last_seen=None)
        table = GatewayTable(Gateway.objects.all()).configure(request_for(viewer))
        seen, never = cells_html(table, 0)["last_seen"], cells_html(table, 1)["last_seen"]
        assert seen.startswith('<time datetime="')
        assert "3\xa0minutes ago" in seen or "3 minutes ago" in seen
        assert never == "never"

    def test_capacity_and_links(self, viewer):
        gateway = GatewayFactory(capacity_mbps=10000, name="gw-link")
        html = cells_html(GatewayTable(Gateway.objects.all()).configure(request_for(viewer)))
        assert html["capacity_mbps"] == "10,000 Mbps"
        assert html["name"] == f'<a href="{gateway.get_absolute_url()}">gw-link</a>'
        assert gateway.region.get_absolute_url() in html["region"]

    def test_missing_capacity_shows_a_dash(self, viewer):
        GatewayFactory(capacity_mbps=None)
        html = cells_html(GatewayTable(Gateway.objects.all()).configure(request_for(viewer)))
        assert html["capacity_mbps"] == "—"


def test_invalid_edit_names_the_object_as_stored(operator_client, db):
    from django.urls import reverse

    from tests.factories import RegionFactory

    region = RegionFactory(name="Stored name")
    response = operator_client.post(
        reverse("gateways:region_edit", args=[region.uuid]), {"name": "New name", "slug": "!!"}
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "Edit Stored name" in page
    assert "Edit New name" not in page


def test_filter_and_page_size_forms_ask_the_path_not_the_current_url(operator_client, db):
    """htmx adds a GET form's fields to its hx-get URL: with hx-get="" (the
    current URL) every change repeated the query string (q=x&q=x)."""
    page = operator_client.get("/gateways/?q=edge&status=online").content.decode()
    assert 'hx-get="/gateways/"' in page
    assert 'hx-get=""' not in page


class TestRowCells:
    """console.tables.row_cells writes what django-tables2's own cell loop
    (the template object_row.html had before) writes, attributes worked out
    once per table."""

    REFERENCE = (
        "{% for column, cell in row.items %}"
        '<td {{ column.attrs.td.as_html }} data-label="{{ column.header }}">{{ cell }}</td>'
        "{% endfor %}"
    )

    def render_both(self, table):
        from django.template import Context, Template

        reference = Template(self.REFERENCE)
        ours = Template("{% load console %}{% row_cells row %}")
        return [
            (reference.render(Context({"row": row})), ours.render(Context({"row": row})))
            for row in table.rows
        ]

    def test_same_cells_as_django_tables2_sorted_and_escaped(self, db):
        region = RegionFactory(name="North <&>")
        GatewayFactory(name='gw-"1"', region=region, software_version="<b>2.1</b>")
        GatewayFactory(name="gw-2", region=region, last_seen=timezone.now())
        table = GatewayTable(Gateway.objects.order_by("name"), order_by="-name")
        pairs = self.render_both(table)
        assert len(pairs) == 2
        for reference, ours in pairs:
            assert ours == reference
        assert "&lt;b&gt;2.1&lt;/b&gt;" in pairs[1][1]  # sorted by name, descending
        assert 'data-label="Version"' in pairs[1][1]
        assert '<td class="num" data-label="Capacity">' in pairs[1][1]

    def test_attributes_computed_per_record_stay_per_record(self, db):
        import django_tables2 as tables

        class PerRecord(GatewayTable):
            name = tables.Column(attrs={"td": {"data-state": lambda record: record.status}})

        GatewayFactory(name="a", status="online")
        GatewayFactory(name="b", status="offline")
        pairs = self.render_both(PerRecord(Gateway.objects.order_by("name")))
        assert [ours for _, ours in pairs] == [reference for reference, _ in pairs]
        assert 'data-state="online"' in pairs[0][1]
        assert 'data-state="offline"' in pairs[1][1]
