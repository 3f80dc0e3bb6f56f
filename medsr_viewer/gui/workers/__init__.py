"""Background jobs (loading, inference, maps, adaptation) and the threads they run on."""
