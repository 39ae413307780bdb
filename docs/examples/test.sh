pip install pytest
pytest
