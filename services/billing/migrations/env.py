from common.alembic_env import run
from services.billing.models import Base

run(Base.metadata)
