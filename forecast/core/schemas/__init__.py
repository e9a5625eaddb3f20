"""Every input file format as pydantic models, one module per format.

``common`` (vocabularies, numbers, dates, :class:`~forecast.core.schemas.common.Strict`),
``catalogue``, ``measurements``, ``priors``, ``scenario``, ``policy`` and ``profile``. Every
model rejects unknown keys; :func:`forecast.core.validation.validate` locates their errors.
"""
