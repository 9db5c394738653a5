
general’
alicealice2