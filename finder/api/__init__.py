"""The open JSON API and the FindTreatment.gov-compatible locator endpoint."""
