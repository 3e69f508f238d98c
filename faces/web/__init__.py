"""The web pages: sign-in as a store user, the "ERP Main Contracts Ready to be Imported"
page with its Re-Import and Import buttons, a contract's preview and the audit pages."""
