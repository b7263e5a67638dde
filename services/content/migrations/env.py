from common.alembic_env import run
from services.content.models import Base

run(Base.metadata)
