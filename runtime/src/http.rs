//! The tower layer that instruments HTTP requests.
