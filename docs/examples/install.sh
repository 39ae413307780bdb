mkdir myapp && cd myapp
python3 -m venv .venv && . .venv/bin/activate
pip install "flask-adobe-oauth[jwt]"
