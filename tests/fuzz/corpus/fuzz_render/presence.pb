
general‚
generalalice 