"""Election records: the model, the native format, egk import (specs/07-record.md)."""
