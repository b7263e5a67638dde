"""Runtime pieces every service shares: ids, rich gRPC errors, the gRPC server factory, databases, ffmpeg."""
