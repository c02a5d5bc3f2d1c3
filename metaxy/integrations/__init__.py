"""Integrations with other frameworks, each behind its extra and importing its framework only when
imported itself: Dagster (``metaxy.integrations.dagster``, extra ``dagster``), Ray
(``metaxy.integrations.ray``, extra ``ray``) and Dask (``metaxy.integrations.dask``, extra ``dask``)."""
