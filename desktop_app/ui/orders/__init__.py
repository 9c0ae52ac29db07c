"""The order list (filter bar + paged table), the order detail panel and the order forms."""
