"""Places: the offline ZIP gazetteer, geocoding and distances."""
