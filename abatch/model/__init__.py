"""Pydantic resources mirroring AWS Batch shapes, job records, status enums. No I/O."""
