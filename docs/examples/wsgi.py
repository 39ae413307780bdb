from werkzeug.middleware.proxy_fix import ProxyFix

from app import create_app

app = create_app()
# One proxy (nginx, a load balancer) in front: trust its X-Forwarded-* headers, and no more.
app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
