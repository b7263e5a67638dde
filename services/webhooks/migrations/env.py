from common.alembic_env import run
from services.webhooks.models import Base

run(Base.metadata)
