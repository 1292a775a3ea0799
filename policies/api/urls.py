from django.urls import path
from rest_framework.routers import DefaultRouter

from policies.api.views import (
    PolicyCategoryViewSet,
    PolicyRevisionViewSet,
    PolicyRuleViewSet,
    PolicyViewSet,
)

router = DefaultRouter()
# Before "policies": the policy routes take only UUIDs, so the order is for readers.
router.register("policies/revisions", PolicyRevisionViewSet)
router.register("policies", PolicyViewSet)
router.register("policy-categories", PolicyCategoryViewSet)

rules = PolicyRuleViewSet.as_view({"get": "list", "post": "create"})
rule = PolicyRuleViewSet.as_view(
    {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
)

urlpatterns = [
    *router.urls,
    path("policies/<uuid:uuid>/rules/", rules, name="policy-rule-list"),
    path("policies/<uuid:uuid>/rules/<uuid:rule>/", rule, name="policy-rule-detail"),
]
