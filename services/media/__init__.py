"""The media service: partner media library, reaction-template pool, music catalog and blob store."""
