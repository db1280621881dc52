print("zkops")
