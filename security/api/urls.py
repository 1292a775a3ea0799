from rest_framework.routers import DefaultRouter

from security.api.views import SecurityEventViewSet

router = DefaultRouter()
router.register("security-events", SecurityEventViewSet, basename="securityevent")

urlpatterns = router.urls
