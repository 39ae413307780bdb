import os

import redis

from flask_adobe_oauth.storage import RedisStorage

from app import create_app

redis_client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379/0"))
app = create_app({"ADOBE_OAUTH_STORAGE": RedisStorage(redis_client, prefix="myapp:adobe:")})
