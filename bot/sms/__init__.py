"""SMS transport: Tencent Cloud SMS API 3.0 (signing, client) and its stand-in."""
