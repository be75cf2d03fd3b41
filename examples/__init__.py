"""The bundled examples (retail dataset, spaces, eval set)."""
