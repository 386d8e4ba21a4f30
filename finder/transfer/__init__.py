"""Imports into the directory (SAMHSA CSV, FindTreatment JSON, HSDS) and exports out of it."""
