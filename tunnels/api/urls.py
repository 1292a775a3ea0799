from rest_framework.routers import DefaultRouter

from tunnels.api.views import TunnelViewSet

router = DefaultRouter()
router.register("tunnels", TunnelViewSet)

urlpatterns = router.urls
