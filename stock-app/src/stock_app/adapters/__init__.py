"""The stock store on the Dapr state API."""
