"""The delivery store on the Dapr state API."""
