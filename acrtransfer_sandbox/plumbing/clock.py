"""The sandbox's clock as ARM writes it."""
import datetime


def utc_now() -> str:
    """ARM's timestamp format: ISO 8601 with microseconds and an explicit UTC offset."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat()
