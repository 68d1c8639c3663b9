"""jsontune: fine-tune a small LLM to turn messy text into strict JSON that validates against a schema."""

__version__ = "0.1.0"
