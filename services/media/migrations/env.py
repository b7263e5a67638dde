from common.alembic_env import run
from services.media.models import Base

run(Base.metadata)
