*x1Zq
generalalicebob9"+
general:alice"hi â‚¬ "quoted"
(ûñÆª3"+
general:alice"hi â‚¬ "quoted"
(ûñÆª3