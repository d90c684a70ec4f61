"""Route helpers agents use (`route_manipulation`)."""
