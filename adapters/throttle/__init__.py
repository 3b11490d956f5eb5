"""The throttle shared by gateway replicas, in Redis."""

from adapters.throttle.redis_throttle import RedisThrottle

__all__ = ["RedisThrottle"]
