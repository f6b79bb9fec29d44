"""The billing store on the Dapr state API."""
