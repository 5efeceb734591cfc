from pleo_erp.models.common import *  # noqa
from pleo_erp.models.export_items import *  # noqa
from pleo_erp.models.export_jobs import *  # noqa
