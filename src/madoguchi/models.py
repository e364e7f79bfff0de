"""Every table, so Alembic and tests see one metadata. Outer layer: may import every domain."""

from madoguchi.agents import models as agents_models
from madoguchi.channels import models as channels_models
from madoguchi.contacts import models as contacts_models
from madoguchi.customers import models as customers_models
from madoguchi.db import feed as feed_models
from madoguchi.db.base import Base
from madoguchi.identity import models as identity_models
from madoguchi.routing import models as routing_models

metadata = Base.metadata

__all__ = [
    "agents_models", "channels_models", "contacts_models", "customers_models", "feed_models",
    "identity_models", "metadata", "routing_models",
]
