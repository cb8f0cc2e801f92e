"""WeChat transport: callback handling, the async API client, the shared token and the API stand-in."""
