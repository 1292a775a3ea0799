from rest_framework.routers import DefaultRouter

from security.api.containment import ContainmentViewSet
from security.api.views import IncidentViewSet, SecurityEventViewSet

router = DefaultRouter()
router.register("security-events", SecurityEventViewSet, basename="securityevent")
router.register("containment", ContainmentViewSet, basename="containment")  # docs/containment.md
router.register("incidents", IncidentViewSet, basename="incident")

urlpatterns = router.urls
