"""A scheduled job: no user, no Flask app, the company's Server-to-Server credential."""

import os

from flask_adobe_oauth.analytics import companies, report_suites
from flask_adobe_oauth.service import AdobeService, service_config

# ADOBE_OAUTH_SERVICE_CLIENT_ID / _SECRET / _SCOPE, else the web credential's id and secret
service = AdobeService(service_config(os.environ))
session = service.session()  # Adobe hosts only, x-api-key, 401 -> one new token, deadlines

for company in companies(session):
    suites = report_suites(company.global_company_id, session=session)
    print(f"{company.name}: {len(suites)} report suites")
