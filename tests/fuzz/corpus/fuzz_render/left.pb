*x1b	
general