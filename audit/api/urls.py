from rest_framework.routers import DefaultRouter

from audit.api.views import AuditRecordViewSet

router = DefaultRouter()
router.register("audit-events", AuditRecordViewSet, basename="auditrecord")

urlpatterns = router.urls
