from rest_framework.routers import DefaultRouter

from gateways.api.views import GatewayViewSet, RegionViewSet

router = DefaultRouter()
router.register("regions", RegionViewSet)
router.register("gateways", GatewayViewSet)

urlpatterns = router.urls
