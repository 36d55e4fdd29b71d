"""AWS adapters: one small module per service, each taking an optional ``client=`` so tests can pass a Stubber or
moto client. They translate ``ClientError`` codes into ``rightsizing.exceptions`` once, at this boundary."""
