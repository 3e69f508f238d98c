"""The faces of contract-sync: the command line and the web pages (installed as
contract_sync_faces). They parse what a person gives, hand it to the core, render what comes
back; the core never imports them."""
