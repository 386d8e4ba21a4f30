"""Loading the real SAMHSA data and the ZIP gazetteer from ``seeds/``."""
