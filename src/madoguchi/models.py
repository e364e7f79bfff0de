"""Every table, so Alembic and tests see one metadata. Outer layer: may import every domain."""

from madoguchi.agents import models as agents_models
from madoguchi.channels import models as channels_models
from madoguchi.channels.email import models as email_models
from madoguchi.channels.voice import models as voice_models
from madoguchi.contacts import models as contacts_models
from madoguchi.customers import models as customers_models
from madoguchi.db import feed as feed_models
from madoguchi.db.base import Base
from madoguchi.flows import models as flows_models
from madoguchi.identity import models as identity_models
from madoguchi.kb import models as kb_models
from madoguchi.reports import models as reports_models
from madoguchi.routing import models as routing_models

metadata = Base.metadata

__all__ = [
    "agents_models", "channels_models", "contacts_models", "customers_models", "email_models", "feed_models",
    "flows_models", "identity_models", "kb_models", "metadata", "reports_models", "routing_models", "voice_models",
]
