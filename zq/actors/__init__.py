"""The asyncio actors: thin glue that performs the pure core's decisions."""
