import os

from flask import request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from flask_adobe_oauth.storage import AdobeTokenMixin, SQLAlchemyStorage

from app import create_app


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class AdobeToken(AdobeTokenMixin, db.Model):  # the table adobe_oauth_tokens, plus a column of yours
    user_agent: Mapped[str | None] = mapped_column(String(200))


storage = SQLAlchemyStorage(
    db, AdobeToken, row_values=lambda token: {"user_agent": request.user_agent.string[:200]}
)
app = create_app(
    {
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL", "sqlite:///app.db"),
        "ADOBE_OAUTH_STORAGE": storage,
    }
)
db.init_app(app)
with app.app_context():
    db.create_all()
