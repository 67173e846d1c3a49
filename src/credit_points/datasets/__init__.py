"""Applicant data: the field catalogue, pandera schemas, readers and writers, the synthetic generator."""
