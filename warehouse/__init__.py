"""The warehouse: models, migrations, views and the reads/writes the pipeline makes."""
